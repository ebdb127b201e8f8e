"""Code tools every agent may select. Each shows one feature of code tools:

calculator     a plain sync tool (safe arithmetic, no eval)
current_time   a plain tool with an optional argument
show_table     a widget tool: streams a Card to the thread through the run context
switch_theme   a client-side tool: the turn ends with a pending client tool call
analyze_text   a long-running job on a Celery worker that reports progress in steps
"""

from __future__ import annotations

import ast
import math
import operator
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import RunContextWrapper

from chatkit_core.agents import AgentContext, ClientToolCall
from chatkit_core.widgets import Card, Col, Divider, Row, Text, Title
from hosted_agents.tools.registry import ProgressReporter, code_tool

__all__ = ["analyze_text", "calculator", "current_time", "show_table", "switch_theme"]

# --------------------------------------------------------------------------- calculator

_MAX_EXPRESSION = 300
_MAX_EXPONENT = 1000
_MAX_MAGNITUDE = 1e100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def evaluate(expression: str) -> float | int:
    """Return the value of an arithmetic expression, or raise ValueError.

    Only numbers, + - * / // % **, parentheses, the constants pi and e and a few math
    functions are understood; the syntax tree is walked here, nothing is evaluated by Python.
    """
    if len(expression) > _MAX_EXPRESSION:
        raise ValueError(f"expression longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None
    try:
        value: float | int = _value(tree.body)
    except (ArithmeticError, TypeError) as error:
        raise ValueError(str(error) or type(error).__name__) from None
    _check_real(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is not a finite number")
    return value


def _check_real(value: Any) -> None:
    # A negative number to a fractional power is complex in Python; JSON cannot carry it,
    # and a calculator for end users should not answer in imaginary numbers.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("the result is not a real number")


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError(f"exponents above {_MAX_EXPONENT} are not allowed")
        result = _BINARY[type(node.op)](left, right)
        _check_real(result)
        if abs(result) > _MAX_MAGNITUDE:
            raise ValueError("the result is too large")
        return result
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_value(arg) for arg in node.args))
    raise ValueError(f"unsupported element: {ast.unparse(node)}")


@code_tool(description="Evaluate an arithmetic expression exactly, e.g. '(3 + 4) * 2 ** 10'.")
def calculator(expression: str) -> dict[str, Any]:
    """Evaluate an arithmetic expression.

    Args:
        expression: Numbers, + - * / // % ** (or ^), parentheses, pi, e, and the functions
            abs, round, min, max, sqrt, exp, log, log10, sin, cos, tan.
    """
    try:
        return {"expression": expression, "result": evaluate(expression)}
    except ValueError as error:
        return {"expression": expression, "error": str(error)}


# --------------------------------------------------------------------------- current time


@code_tool(description="Tell the current date and time in a time zone.")
def current_time(timezone: str = "UTC") -> dict[str, str]:
    """Return the current date and time.

    Args:
        timezone: An IANA time zone name such as 'Europe/Paris' or 'America/New_York'.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return {"error": f"unknown time zone {timezone!r}; use a name like 'Europe/Paris'"}
    moment = datetime.now(UTC).astimezone(zone)
    return {
        "timezone": timezone,
        "iso": moment.isoformat(timespec="seconds"),
        "weekday": moment.strftime("%A"),
        "utc_offset": moment.strftime("%z"),
    }


# --------------------------------------------------------------------------- widget

_MAX_ROWS = 50


def table_card(title: str, columns: list[str], rows: list[list[str]]) -> Card:
    """Return a Card showing a small table: a title, a header row and up to 50 rows."""

    def line(cells: list[str], weight: Literal["semibold"] | None = None) -> Row:
        texts = [Text(value=cell, weight=weight, size="sm") for cell in cells]
        return Row(children=[Col(children=[text], flex=1) for text in texts], gap=2)

    children: list[Any] = [Title(value=title, size="sm"), line(columns, "semibold"), Divider()]
    children += [line(row) for row in rows[:_MAX_ROWS]]
    if len(rows) > _MAX_ROWS:
        children.append(Text(value=f"... and {len(rows) - _MAX_ROWS} more rows", size="xs"))
    return Card(children=children, size="md")


@code_tool(description="Show the user a table (a card with a header row and rows of cells).")
async def show_table(
    ctx: RunContextWrapper[AgentContext[Any]], title: str, columns: list[str], rows: list[list[str]]
) -> str:
    """Display a table to the user in the chat.

    Args:
        title: A short title above the table.
        columns: The column headings.
        rows: The rows, each a list of cell texts in column order.
    """
    widths = {len(row) for row in rows}
    if widths - {len(columns)}:
        return f"Not shown: every row needs exactly {len(columns)} cells."
    copy_text = "\n".join("\t".join(cells) for cells in [columns, *rows])
    await ctx.context.stream_widget(table_card(title, columns, rows), copy_text=copy_text)
    return f"The table '{title}' with {len(rows)} rows is now shown to the user."


# --------------------------------------------------------------------------- client side


@code_tool(description="Switch the chat page between its light and dark theme.")
def switch_theme(ctx: RunContextWrapper[AgentContext[Any]], theme: Literal["light", "dark"]) -> str:
    """Ask the user's browser to switch theme; the client answers with the outcome.

    Args:
        theme: The theme to switch to.
    """
    ctx.context.client_tool_call = ClientToolCall(name="switch_theme", arguments={"theme": theme})
    return f"Asked the page to switch to the {theme} theme."


# --------------------------------------------------------------------------- long-running

# Seconds each step of analyze_text takes at least, so the progress can be seen.
ANALYZE_STEP_SECONDS = 0.6
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ']+")
_STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "he",
        "her", "his", "i", "in", "is", "it", "its", "of", "on", "or", "she", "that", "the",
        "their", "they", "this", "to", "was", "we", "were", "will", "with", "you", "your",
    }
)  # fmt: skip


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouyà-ÿ]+", word.lower())
    return max(1, len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0))


@code_tool(
    description=(
        "Analyse a long text: word and sentence counts, reading time, readability and the most "
        "frequent words. Takes a few seconds; the user sees its progress."
    ),
    long_running=True,
    time_limit_seconds=60.0,
)
def analyze_text(progress: ProgressReporter, *, text: str, top: int = 5) -> dict[str, Any]:
    """Analyse a text.

    Args:
        text: The text to analyse.
        top: How many of the most frequent words to list.
    """
    progress.report("Splitting the text into sentences", 0.0)
    time.sleep(ANALYZE_STEP_SECONDS)
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    progress.report("Counting words", 0.25)
    time.sleep(ANALYZE_STEP_SECONDS)
    words = _WORD.findall(text)
    progress.report("Measuring readability", 0.5)
    time.sleep(ANALYZE_STEP_SECONDS)
    syllables = sum(_syllables(word) for word in words)
    per_sentence = len(words) / max(1, len(sentences))
    per_word = syllables / max(1, len(words))
    flesch = 206.835 - 1.015 * per_sentence - 84.6 * per_word
    progress.report("Finding the most frequent words", 0.75)
    time.sleep(ANALYZE_STEP_SECONDS)
    counts = Counter(w.lower() for w in words if w.lower() not in _STOP_WORDS and len(w) > 2)
    progress.report("Done", 1.0)
    return {
        "characters": len(text),
        "words": len(words),
        "sentences": len(sentences),
        "average_words_per_sentence": round(per_sentence, 1),
        "reading_time_minutes": round(len(words) / 230, 1),
        "flesch_reading_ease": round(flesch, 1),
        "top_words": [[word, n] for word, n in counts.most_common(max(0, min(top, 50)))],
    }
