"""PostgreSQL user store, JWT, password hashing, downstream HTTP, Redis rate limits."""
