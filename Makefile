# The two commands of the README: `make sim` (a simulated mining shift) and `make test`.
# Both create the virtualenv on first use from the pinned requirements.
PYTHON ?= python3
# The ROS 2 distribution the virtualenv holds: kilted (default) or jazzy (the LTS), each
# its own venv and pinned requirements: `make test ROS_DISTRO=jazzy`.
ROS_DISTRO ?= kilted
ifeq ($(ROS_DISTRO),jazzy)
VENV := .venv-jazzy
REQUIREMENTS := requirements-dev-jazzy.txt requirements-jazzy.txt
BUILD_REQUIREMENTS := requirements-build-jazzy.txt
else ifeq ($(ROS_DISTRO),kilted)
VENV := .venv
REQUIREMENTS := requirements-dev.txt requirements.txt
BUILD_REQUIREMENTS := requirements-build.txt
else
$(error ROS_DISTRO=$(ROS_DISTRO): this project's venvs are kilted (default) or jazzy)
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The interface package (ament_cmake + rosidl), built with the pinned ROS build wheels and
# installed into the venv's prefix, where the ament index, rclpy and the ROS wheels' loader
# (the venv's lib/) find it. Needs cmake >= 3.21, a C/C++ compiler and Python's headers.
INTERFACES := spacemine_interfaces
INTERFACES_SOURCES := $(shell find $(INTERFACES) -type f)
INTERFACES_BUILD := build/$(ROS_DISTRO)/$(INTERFACES)
PREFIX := $(abspath $(VENV))
SHIFT_ARGS ?=
# make targets TARGETS_ARGS="--class C --max-delta-v 6": spacemine-targets options
TARGETS_ARGS ?=
# make sim SITE=LAT,LON: the work site in degrees (default: the body preset's)
SITE ?=
PYTEST_ARGS ?=
# Test workers (pytest-xdist): most of the suite waits on simulated rigs, so two keep a
# two-core machine busy; TEST_WORKERS=0 runs it in this process (pdb, -s). A file's tests
# stay on one worker, so a module's reference run (the kill cases') is made once.
TEST_WORKERS ?= 2

# Keep ROS traffic on this machine; each run claims a free ROS domain of its own
# (spacemine_ros/domain.py) unless ROS_DOMAIN_ID is set.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export RMW_IMPLEMENTATION ?= rmw_fastrtps_cpp

.PHONY: sim test test-fast lint bench venv clean interfaces campaign targets

venv: $(STAMP)

$(STAMP): $(REQUIREMENTS) $(BUILD_REQUIREMENTS) requirements-tools.txt setup.py \
		$(INTERFACES_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(firstword $(REQUIREMENTS)) -r $(BUILD_REQUIREMENTS)
	rm -rf $(INTERFACES_BUILD)
	PATH=$(PREFIX)/bin:$$PATH AMENT_PREFIX_PATH=$(PREFIX) cmake -S $(INTERFACES) \
		-B $(INTERFACES_BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCMAKE_PREFIX_PATH=$(PREFIX) \
		-DPython3_EXECUTABLE=$(PREFIX)/bin/python -DBUILD_TESTING=OFF --log-level=WARNING
	PATH=$(PREFIX)/bin:$$PATH cmake --build $(INTERFACES_BUILD) --parallel 2 \
		> $(INTERFACES_BUILD)/build.log 2>&1 || { cat $(INTERFACES_BUILD)/build.log; exit 1; }
	cmake --install $(INTERFACES_BUILD) > $(INTERFACES_BUILD)/install.log
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Build and install the interface package again (make venv does when its files change).
interfaces:
	rm -f $(STAMP)
	$(MAKE) venv ROS_DISTRO=$(ROS_DISTRO)

sim: $(STAMP)
	$(BIN)/spacemine-shift --body bennu --depth 0.3 --record $(if $(SITE),--site $(SITE)) \
		--summary-file shift_summary.json $(SHIFT_ARGS)

# Many headless shifts with what is uncertain drawn per sample, on an embedded Dask
# cluster (docs/campaigns.md): `make campaign CAMPAIGN=config/campaigns/<name>.yaml`.
CAMPAIGN ?= config/campaigns/ci_small.yaml
campaign: $(STAMP)
	$(BIN)/spacemine-campaign $(CAMPAIGN) $(CAMPAIGN_ARGS)

# Near-Earth asteroids ranked by what a rig would bring back: targets.csv, targets.html.
targets: $(STAMP)
	$(BIN)/spacemine-targets $(TARGETS_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The fast tiers only: unit and simulation tests (no ROS graph, no serial lines, no
# end-to-end runs); `make test` runs every tier.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
		-m "not ros and not slow and not hil" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/python -m flake8 spacemine_ros launch test bench setup.py
	$(BIN)/lint-imports --no-cache

# Every bench runs even if one fails (a loaded host can fail a timing-bound one); the
# target fails at the end, naming those that did.
BENCHES := bench_sim_rtf bench_memory bench_modbus bench_modbus_fuzz bench_field_bus bench_estop \
	bench_recording bench_messages bench_campaign bench_campaign_memory
bench: $(STAMP)
	@failed=""; for b in $(BENCHES); do echo "== $$b"; \
		$(BIN)/python bench/$$b.py || failed="$$failed $$b"; done; \
		if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

clean:
	rm -rf .venv .venv-jazzy build install log .pytest_cache shift_summary.json bench/results
