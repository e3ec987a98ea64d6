"""A stand-in for the ``LambdaContext`` object the Lambda runtime passes to handlers."""

from __future__ import annotations

import time
import uuid


class LocalLambdaContext:
    """The attributes handlers and Powertools read from a Lambda context."""

    def __init__(self, function_name: str, timeout_seconds: float = 30.0, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation would time out."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
