"""What an author writes: front matter and its schema, `invoke lint`, `invoke new-post` and Markdown code fences."""
