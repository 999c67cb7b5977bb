"""The scan pipelines: sources -> detect engine -> findings, one module per kind of input.

`files` walks directories and scans files (and streams of contents, such as git blobs);
`history` scans a repository's history through `sources.git_log` and attributes findings
to the commit that introduced them.
"""
