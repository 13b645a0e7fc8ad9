"""Pure rules: users, roles and permissions, the password policy."""
