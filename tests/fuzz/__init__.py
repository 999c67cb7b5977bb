"""Fuzz targets over akscan's readers of untrusted input (issue 12)."""
