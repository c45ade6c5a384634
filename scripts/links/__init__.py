"""Links of the built site: extracting them from HTML, internal checks, external checks and the LinkChecker crawl."""
