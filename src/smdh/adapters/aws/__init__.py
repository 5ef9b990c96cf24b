"""AWS adapters: the seed's AWS architecture behind the same ports as the embedded hub.

DynamoDB (event store, read models), Kinesis (ingest stream), IoT Core (device gateway),
SNS/SES (notifiers), CloudWatch EMF (ingest metrics) and S3 (archive). Only this package
imports boto3, and nothing here creates a client at import time: clients come from
``session.AwsClientFactory`` in the composition root and are passed to the adapters.
"""
