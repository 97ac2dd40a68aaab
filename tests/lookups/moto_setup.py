"""Seeds a moto server for tests/api/lookup_aws.rs, then turns on its request checking.

Usage: moto_setup.py ENDPOINT SECRETS_JSON
  SECRETS_JSON: [[name, "string", text] | [name, "binary", base64], ...]

Creates an IAM user allowed every action, an access key for it and the given secrets (moto
accepts any credentials until then), then POSTs 0 to /moto-api/reset-auth so that every
later call must be SigV4-signed with a known key (plugins.md 5.1). Prints
{"access_key": ..., "secret_key": ...} as JSON.
"""

import base64
import json
import sys
import urllib.request

import boto3

endpoint, secrets = sys.argv[1], json.loads(sys.argv[2])
common = {
    "endpoint_url": endpoint,
    "region_name": "us-east-1",
    "aws_access_key_id": "setup",
    "aws_secret_access_key": "setup",
}

iam = boto3.client("iam", **common)
iam.create_user(UserName="credstore")
iam.put_user_policy(
    UserName="credstore",
    PolicyName="everything",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    ),
)
key = iam.create_access_key(UserName="credstore")["AccessKey"]

sm = boto3.client("secretsmanager", **common)
for name, kind, value in secrets:
    if kind == "string":
        sm.create_secret(Name=name, SecretString=value)
    else:
        sm.create_secret(Name=name, SecretBinary=base64.b64decode(value))

# Plain text: a form content type would make moto's Flask consume the body.
request = urllib.request.Request(
    endpoint + "/moto-api/reset-auth",
    data=b"0",
    method="POST",
    headers={"Content-Type": "text/plain"},
)
with urllib.request.urlopen(request) as answer:
    answer.read()

print(json.dumps({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}))
