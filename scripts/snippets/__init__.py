"""Code samples in posts: extract them, plan and run them in isolated workers, check other formats, report."""
