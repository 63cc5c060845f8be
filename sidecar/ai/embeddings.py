"""Embeddings through the OpenAI SDK: OpenAI itself or any server that speaks its embeddings API."""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.ai import offloop_import
from sidecar.ai.chat import AiCallError, sdk_errors

MAX_INPUTS = 2048  # the API's own cap on inputs per request


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    model: str
    input_tokens: int


async def embed(
    texts: list[str],
    *,
    model: str,
    api_key: str,
    base_url: str | None = None,
    dimensions: int | None = None,
    timeout_seconds: float = 60.0,
) -> EmbeddingResult:
    await offloop_import.load("openai")
    import openai

    if not texts or len(texts) > MAX_INPUTS:
        raise AiCallError(f"embed between 1 and {MAX_INPUTS} texts at a time")
    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout_seconds)
    try:
        with sdk_errors("OpenAI", openai):
            response = await client.embeddings.create(
                model=model, input=texts, encoding_format="float", dimensions=dimensions or openai.omit
            )
    finally:
        await client.close()
    ordered = sorted(response.data, key=lambda item: item.index)
    usage = response.usage
    return EmbeddingResult(
        [list(item.embedding) for item in ordered], response.model, int(usage.prompt_tokens if usage else 0)
    )
