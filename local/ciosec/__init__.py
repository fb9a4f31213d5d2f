"""ciosec: the operator CLI, the local AWS emulation and the Customer.io sandbox of cio-security.

- ``cli`` and ``commands/``: the operator CLI (``ciosec``, ``python -m ciosec``), one module per
  command group; it runs against the local stack or, with ``--stack``, a deployed one.
- ``operations/``: what those commands do to a stack (deletion requests, the dead-letter queue,
  rotation, finding the stack's resources).
- ``emulator/``: the local AWS emulation (template.yaml resolution and provisioning in moto, the
  API Gateway bridge, the SQS event source, the local stack runner).
- ``sandbox/``: the Customer.io Track API sandbox (``python -m ciosec.sandbox``).
- ``checks/``: CI checks run by the Makefile (``sam build`` output, the secrets baseline).
"""
