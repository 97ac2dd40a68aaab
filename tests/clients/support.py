"""What the scenario's steps share: a failed check, and short quotes of what was seen."""

import json


class StepFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise StepFailed(message)


def short(value, limit=600):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) <= limit:
        return text
    # Of a Python traceback the end matters: the exception and the server's answer.
    if text.startswith('Traceback'):
        return '...' + text[-limit:]
    return text[:limit] + '...'
