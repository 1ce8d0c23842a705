"""Rendering at the edge: text tables, CSV, JSON, Markdown, HTML.  Nothing here reads files."""
