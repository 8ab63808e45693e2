"""A local OpenAI Files + Batches API server, as faithful as the Anthropic emulator.

The official `openai` SDK (3.x) works against it with only `base_url` changed (the server's
`base_url` ends in /v1). Module map: `server` (aiohttp routes, auth, faults), `state`
(SQLite; lazy lifecycle; output and error files), `validate` (the input file's checks),
`bodies` (each request's fate and reply), `models` (the served model list), `envelope`
(OpenAI's error body). Clock, fault configuration, counters and HTTP plumbing are the
Anthropic emulator's (`clock`, `config`, `stats`, `wire`).

What it reproduces, and where each behaviour comes from:

- Files (Files API reference; SDK `resources/files.py`, `types/file_object.py`):
  `POST /v1/files` multipart with `file`, `purpose` (assistants, batch, fine-tune, vision,
  user_data, evals) and optional `expires_after[anchor|seconds]` (created_at, 3600 to
  2,592,000 s); purpose `batch` files must be named `.jsonl` and expire after 30 days by
  default; 512 MB per upload. `GET /v1/files` (after, limit ≤ 10,000, order, purpose),
  `GET /v1/files/{id}`, `GET /v1/files/{id}/content` (bytes), `DELETE /v1/files/{id}`
  (`{id, object: "file", deleted: true}`). A deleted or expired file is a 404.
- Batches (Batch API reference; SDK `types/batch*.py`, `resources/batches.py`):
  `POST /v1/batches` {input_file_id, endpoint, completion_window: "24h", metadata (16 pairs,
  keys ≤ 64, values ≤ 512 characters), output_expires_after}; `GET /v1/batches` (after,
  limit 1–100, default 20, newest first, has_more/first_id/last_id); `GET /v1/batches/{id}`;
  `POST /v1/batches/{id}/cancel`. Endpoints answered: /v1/chat/completions, /v1/responses,
  /v1/embeddings; the other endpoints the API lists are refused with a message saying so.
- Validation while `validating` (Batch API guide, "Preparing your batch file"): each line
  `{custom_id, method: "POST", url, body}`, url equal to the batch's endpoint, unique
  custom_ids, one model per file, at most 50,000 requests and 200 MB, at most 50,000
  embedding inputs. A file breaking them makes the batch `failed` with
  `errors: {object: "list", data: [{code, message, param, line}]}` and zero counts.
- Lifecycle (Batch object reference): validating (`start_delay_s`) → in_progress (requests
  finish at `rate` per second, counts move live or at the end per `counters`) →
  finalizing (`finalize_delay_s`) → completed; cancel → cancelling → cancelled
  (`cancel_delay_s`; requests not finished by the cancel are in neither file); 24 h after
  creation an unfinished batch is `expired` and its unfinished requests are written to the
  error file with `error: {code: "batch_expired"}` (not counted in `failed`, which counts
  the requests that ran and failed: `completed` + `failed` < `total`). Each status has its
  `*_at` timestamp (Unix seconds). `usage` sums the billed tokens once the batch ended.
- Result files (Batch API guide, "Retrieving the results"): purpose `batch_output`, named
  `{batch_id}_output.jsonl` / `_error.jsonl`, lines `{id: "batch_req_…", custom_id,
  response: {status_code, request_id, body}, error}`; a request the endpoint refuses
  (unknown model, a missing field, a value out of range) is an error-file line with its
  status and OpenAI's error body and `error: null`, as the real API writes them. Output
  order is shuffled unless `shuffle_results` is off (the guide: order may differ).
- Bodies: `chat.completion`, `response` and embedding `list` objects in the SDK's shapes,
  usage included, deterministic per seed; `max_tokens`/`max_completion_tokens` cut a reply
  (`finish_reason: "length"`), `max_output_tokens` makes a response `incomplete`;
  `logprobs: true` (with `top_logprobs`) gives each choice its `logprobs.content`;
  embeddings have the model's dimension or the `dimensions` asked for, `encoding_format:
  base64` packs float32s.
- Prompt caching (the prompt caching guide: prompts of 1,024 tokens or more, 128-token
  steps; the SDK's usage types, `cache_write_tokens` and its 30-minute / 12-hour split): a
  request repeating a prefix an earlier request of its batch sent reads it
  (`cached_tokens`, also in the batch's `usage`); the first writes it, reported as
  `cache_write_tokens` by GPT-5.6 and later models (`prompt_cache_options` is theirs);
  `mode: "explicit"` without a `prompt_cache_breakpoint` caches nothing.
- Errors: `{"error": {"message", "type", "param", "code"}}`, 401 without a Bearer key, 404
  for unknown ids and routes, 409 to cancel an ended batch; injected faults are a 429 with
  `retry-after`, a 503 for "overloaded" and a 500, with `x-should-retry`, which the SDK's
  retry logic reads; `cut_results_after_bytes` cuts a file's content download;
  `transient_404_s` answers 404 for a batch for that long after its creation (retrieve)
  and for its output and error files for that long after they were written (content), as
  the Anthropic emulator does for a new batch and its results.
- Projects (Authentication reference: keys are project keys): files and batches belong
  to the project of the key that made them (`key_workspaces` maps a key to a project id;
  other keys share the default project); another project's ids are 404s; every
  authenticated answer carries `openai-organization` and `openai-project` headers.
- Rules (`config.Rule`) script a custom_id's fate: `errored` (its `error_type` chooses the
  status), `succeeded` with `text` or `stop_reason` ("max_tokens", "refusal"), `delay_s`,
  and `expired`/`canceled` (never processed: the batch runs to its expiry).
"""

from .server import OpenAIServer
from .validate import Limits

__all__ = ["Limits", "OpenAIServer"]
