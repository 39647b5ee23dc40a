"""Schemathesis hooks: the fuzzer behaves as a correct client where the
contract asks something of clients that a generator cannot know."""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # A client sends a fresh Idempotency-Key with each new request; reusing
    # one for a different request is refused (422), as the contract says.
    # Only keys that are valid stay under test as keys: invalid ones are kept
    # so that their refusal is still checked.
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and VALID_KEY.match(str(headers[name])):
            headers[name] = uuid.uuid4().hex
