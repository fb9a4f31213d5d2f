"""The local AWS emulation behind ``make local``, the end-to-end tests and the chaos suite.

- ``template``: read template.yaml and resolve its intrinsic functions (loudly: an intrinsic it
  cannot resolve is an error, never a made-up name).
- ``provision``: create the template's secrets, queues, tables and event buses in moto.
- ``functions``: load a function's ``app.py`` as a fresh module, with a Lambda-like context.
- ``api_gateway``: serve a handler over HTTP as API Gateway's HTTP API (payload 2.0) does.
- ``sqs_event_source``: feed a handler from a queue as Lambda's event source mapping does.
- ``moto_server``: moto's threaded server with DynamoDB requests served one at a time (atomic
  conditional writes, as in DynamoDB).
- ``local_stack``: all of the above plus the Customer.io sandbox, started and stopped together.
"""
