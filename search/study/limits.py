"""How long trials may start, and one trial run: the command keeps to ``--timeout``, no trial holds it hostage.

``--timeout T`` is the command's budget, from its start: trials start while
what is left of it exceeds the write-up's share (`trials_budget`), so the best
model is refitted, logged and registered by about T. One trial may run for
``--trial-timeout`` if given; with ``--timeout``, never past the end of the
trials' budget by more than `defaults.TRIAL_GRACE` seconds; with neither,
`defaults.TRIAL_TIMEOUT`. The limit is taken when the trial starts.
"""

from __future__ import annotations

from search import defaults

#: A trial's limit in seconds (None: none), and what to add to "exceeded the per-trial limit of N s".
TrialLimit = tuple[float | None, str]


def trial_limit(trial_timeout: float | None, seconds_left: float | None) -> TrialLimit:
    """The limit of a trial starting now, with ``seconds_left`` of the study's budget (None: no budget)."""
    if trial_timeout is not None:
        limit, why = trial_timeout, ""
    elif seconds_left is None:
        limit, why = defaults.TRIAL_TIMEOUT, " (the default; see --trial-timeout)"
    else:
        limit, why = float("inf"), ""
    if seconds_left is not None:
        budget = max(seconds_left, 0.0) + defaults.TRIAL_GRACE
        if budget < limit:
            return budget, f" (what was left of --timeout, plus {defaults.TRIAL_GRACE:g} s)"
    return limit, why


#: The end of ``--timeout`` kept for the write-up (the best model refitted twice, logged, registered; the figures):
#: a fifth of it, at most `WRITE_UP_SECONDS`.
WRITE_UP_SHARE, WRITE_UP_SECONDS = 0.2, 5.0
#: Trials may always start for at least this long: a budget spent before the first trial still runs one.
FIRST_TRIAL_SECONDS = 1.0


def trials_budget(timeout: float | None, spent: float) -> float | None:
    """Seconds from now in which trials may start, ``spent`` seconds into a command with ``--timeout`` (None: none)."""
    if timeout is None:
        return None
    write_up = min(WRITE_UP_SHARE * timeout, WRITE_UP_SECONDS)
    return max(timeout - spent - write_up, FIRST_TRIAL_SECONDS)
