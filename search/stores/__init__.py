"""Where studies and runs are kept: the Optuna storage (`search.stores.optuna_storage`) and the MLflow tracking
store (`search.stores.tracking_store`), chosen by URL; their URLs (`search.stores.urls`) and the lock that
lets one process create a store while others wait (`search.stores.lock`)."""
