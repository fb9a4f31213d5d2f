"""What the operator CLI does to a stack, local or deployed, through boto3 clients it is given.

- ``stack``: where the stack's resources are (a CloudFormation stack's outputs, or the local
  stack's state file).
- ``deletion``: submit deletion requests, read audit records, list and redrive the dead-letter
  queue.
- ``rotation``: stage a new secret value, rotate (through Secrets Manager, or locally), status.
"""
