"""A study's deliverable: what a user takes away from it.

- `best_model`: the best configuration refitted and logged on the study's run (and registered);
- `champion`: registering a version, and the ``champion`` alias that moves only to a better one;
- `logged_model`: a fitted model logged the MLflow way (skops, signature, input example);
- `figures`: the study explained in pictures, drawn in a process of their own;
- `lineage`: where the data came from and what ran (MLflow datasets, digests, versions, command);
- `predictions`: a logged model's predictions, for a CSV file or a JSON request.
"""
