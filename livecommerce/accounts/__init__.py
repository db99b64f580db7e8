"""Users: sign-up, login, roles, saved address and payment methods."""
