"""The engine: text in, findings out. Knows nothing of files, git or report formats."""
