"""Where studies and runs are kept: the Optuna storage (`search.stores.optuna`) and the MLflow tracking
store (`search.stores.mlflow`), chosen by URL; their URLs (`search.stores.urls`) and the lock that
lets one process create a store while others wait (`search.stores.lock`)."""
