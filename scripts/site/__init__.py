"""Hugo and what it makes: the site's configuration, running Hugo, build, serve, the search index and publish."""
