"""How long one trial may run before it is stopped and failed: no trial holds a study hostage.

``--trial-timeout`` if given; with ``--timeout``, never past the end of the
study's budget by more than `defaults.TRIAL_GRACE` seconds; with neither,
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
