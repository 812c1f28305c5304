"""Chat-model clients: every one a langchain-core ``BaseChatModel``.

- :class:`~orchestrator.models.openai_compat.OpenAICompatChatModel`: vLLM or any
  OpenAI-compatible server over httpx.
- :class:`~orchestrator.models.local.LocalChatModel`: the embedded llama.cpp model.
- :class:`~orchestrator.models.testing.FakeChatModel` and
  :class:`~orchestrator.models.testing.FunctionChatModel`: scripted models for tests.
"""
