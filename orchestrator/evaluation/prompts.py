"""The task text a pipeline receives for each benchmark item.

Prompts ask for an answer the judges can find: math ends in ``\\boxed{}``, code comes in one
fenced Python block holding the whole function. The pipeline's planner may still delegate to the
reasoner, whose structured ``answer`` / ``code`` fields the judges read as well.
"""

from __future__ import annotations

from orchestrator.evaluation.datasets import EvalItem, HumanEvalItem, MathItem, MbppItem

__all__ = ["build_prompt"]

_MATH = """Solve the following math problem. Reason step by step, then give the final answer \
in simplest exact form (fractions, radicals and pi rather than decimals, unless the problem asks \
otherwise), written as \\boxed{{ANSWER}} at the end of your reply.

Problem:
{problem}"""

_HUMANEVAL = """Complete the following Python function so that it does what its docstring says. \
Reply with the complete function (its imports, signature and body) in one ```python fenced \
block. Do not include tests or example usage.

```python
{prompt}```"""

_MBPP = """{text}

Write the Python function in one ```python fenced block. Your code should pass these tests:

{tests}"""


def build_prompt(item: EvalItem) -> str:
    """The task text for one item.

    Example:
        >>> build_prompt(MathItem(id="1", problem="What is $1+1$?", answer="2")).endswith("$1+1$?")
        True
    """
    if isinstance(item, MathItem):
        return _MATH.format(problem=item.problem.strip())
    if isinstance(item, HumanEvalItem):
        return _HUMANEVAL.format(prompt=item.prompt)
    if isinstance(item, MbppItem):
        return _MBPP.format(text=item.text.strip(), tests="\n".join(item.test_list))
    raise TypeError(f"no prompt for {type(item).__name__}")
