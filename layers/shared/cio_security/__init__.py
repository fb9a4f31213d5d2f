"""cio_security: the shared library of the secure Customer.io integration."""
