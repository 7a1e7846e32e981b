#!/usr/bin/env bash
# CML runs this file when it builds the project's model ("Champion classifier", cml/predict.py):
# the model's image gets the toolkit and its dependencies, as the install job gives the jobs.
set -euo pipefail
pip3 install --no-cache-dir --progress-bar off .
