# The one environment is .venv; both targets create it when missing. The test and benchmark extras (ONNX
# Runtime, OpenCV) are installed too, so that their tests run instead of skipping.
PY := .venv/bin/python
TORCH_VERSION := 2.13.0

.PHONY: demo test clean-venv

.venv/.installed: setup.cfg pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e '.[dev,onnx,bench]'
	touch $@

demo: .venv/.installed
	bash tools/demo.sh

# pytest exits 5 when it collects no test: report it and do not fail on it.
test: .venv/.installed
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

clean-venv:
	rm -rf .venv
