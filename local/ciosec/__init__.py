"""ciosec: operator CLI, local stack and Customer.io sandbox for the cio-security project."""
