"""Contract tests: every documented request and response example of every Customer.io endpoint the
project calls or will call (``documented``), run through the sandbox over HTTP (it must accept
each documented request and answer each documented response shape) and through the client's
parsing where the client parses it, so neither can drift from the documentation unnoticed.
Where the documentation is silent (a 429's body and ``Retry-After``), ``test_undocumented``
pins the client's behaviour under every answer."""
