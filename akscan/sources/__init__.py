"""Where text comes from: files on disk (and, later, git objects). Sources know no rules."""
