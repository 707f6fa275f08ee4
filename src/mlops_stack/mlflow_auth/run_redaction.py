"""A non-admin's run responses are parsed only when they link a model.

After `get_run` and `search_runs`, MLflow 3.17.2's `_redact_run_response` parses the whole JSON response
into protobuf (100 runs with their metrics, params and tags for one `search_runs` page) to look for model
links (a run's model inputs or outputs, a metric's model id) that the user may not see, and rewrites the
response only if it removed one. A response whose body has none of those keys has nothing to remove, so
it goes out as it is, without the parse. Every other response gets MLflow's check unchanged.

JSON writes every key in quotes, so a body without the quoted key names has none of those fields; a body
that only mentions them in a value (a tag, a param) gets MLflow's full check, which is merely slower.
"""

from __future__ import annotations

import functools

from mlops_stack.mlflow_auth import store_wrapper

EXPECTED_SIGNATURE = "(resp: 'Response', response_message, runs_of) -> 'None'"
# The JSON names (MLflow keeps the proto field names) of what `_withhold_denied_run_model_links` clears.
MODEL_LINK_KEYS = (b'"model_inputs"', b'"model_outputs"', b'"model_id"')


def links_a_model(body: bytes) -> bool:
    return any(key in body for key in MODEL_LINK_KEYS)


def install(basic_auth) -> None:
    store_wrapper.replace_function(basic_auth, "_redact_run_response", EXPECTED_SIGNATURE, _skipping_unlinked)


def _skipping_unlinked(original):
    @functools.wraps(original)
    def redact_run_response(resp, response_message, runs_of) -> None:
        if not resp.is_streamed and not links_a_model(resp.get_data()):
            return
        original(resp, response_message, runs_of)

    return redact_run_response
