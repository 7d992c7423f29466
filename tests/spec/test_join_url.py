"""A target's base URL may carry a path prefix and a query (Azure OpenAI's `?api-version=`, a
signed `?sig=`): every request path is appended to its path, and its query kept."""

from __future__ import annotations

import pytest

from chaos.spec.urls import join_url


@pytest.mark.parametrize(("base", "path", "url"), [
    ("http://h:1", "/v1/chat/completions", "http://h:1/v1/chat/completions"),
    ("http://h:1/", "/health", "http://h:1/health"),
    ("http://h:1/gw/", "/health", "http://h:1/gw/health"),
    ("https://x.openai.azure.com/openai/deployments/gpt4?api-version=2024-10-21", "/chat/completions",
     "https://x.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-10-21"),
    ("http://h:1/base/?sig=abc", "/health", "http://h:1/base/health?sig=abc"),
    ("http://h:1?sig=abc", "/x?a=1", "http://h:1/x?a=1&sig=abc"),
    ("http://h:1/p?", "/health", "http://h:1/p/health"),
    ("http://h:1/p?k=v#frag", "/health", "http://h:1/p/health?k=v"),
])
def test_paths_go_after_the_base_path_and_before_its_query(base: str, path: str, url: str) -> None:
    assert join_url(base, path) == url
