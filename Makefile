# kina — build, test, install.  `make` builds into build/; `make test` is what CI runs.
#
# Variables follow LuaRocks' names (CC, CFLAGS, LIBFLAG, LUA_INCDIR) so `make` and
# `luarocks make` agree.  PORTABLE=1 forces the portable POSIX paths (the ones macOS takes).

SHELL      := /bin/bash
.SHELLFLAGS := -o pipefail -c
PREFIX     ?= /usr/local
BUILD      ?= build
LUA        ?= lua5.4
BUSTED     ?= busted
CC         ?= cc
UNAME_S    := $(shell uname -s)

# Lua headers and library: pkg-config names differ between Debian and Homebrew.
LUA_PC     := $(shell for p in lua5.4 lua-5.4 lua54 lua; do pkg-config --exists $$p 2>/dev/null && echo $$p && break; done)
LUA_CFLAGS ?= $(if $(LUA_PC),$(shell pkg-config --cflags $(LUA_PC)),-I/usr/include/lua5.4)
LUA_LIBS   ?= $(if $(LUA_PC),$(shell pkg-config --libs $(LUA_PC)),-llua5.4)

WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT        ?= -O2 -g
CFLAGS     ?= $(OPT)
KINA_CFLAGS = -std=c99 -fPIC $(WARN) $(LUA_CFLAGS) $(if $(PORTABLE),-DKINA_PORTABLE=1) $(SANFLAGS)
ifeq ($(UNAME_S),Darwin)
LIBFLAG    ?= -bundle -undefined dynamic_lookup
HOST_LDFLAGS ?=
else
LIBFLAG    ?= -shared
HOST_LDFLAGS ?= -Wl,-E -ldl
endif

MODULES    := $(patsubst core/%.c,%,$(filter-out core/main.c,$(wildcard core/*.c)))
MODULE_SOS := $(patsubst %,$(BUILD)/lib/kina/core/%.so,$(MODULES))
MODULE_OBJS:= $(patsubst %,$(BUILD)/obj/%.o,$(MODULES))
HEADERS    := $(wildcard core/*.h)

.PHONY: all deps deps-demo demo oracle-tools test test-unit test-portable test-clang test-install sanitize sanitize-run valgrind bench install uninstall clean lint

all: $(BUILD)/kina $(MODULE_SOS) $(BUILD)/sim/container

$(BUILD)/obj/%.o: core/%.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KINA_CFLAGS) -c $< -o $@

$(BUILD)/lib/kina/core/%.so: $(BUILD)/obj/%.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(LIBFLAG) -o $@ $<

# The host links every core module in and registers them in package.preload.
$(BUILD)/obj/preload.h: Makefile $(wildcard core/*.c)
	@mkdir -p $(dir $@)
	@{ for m in $(MODULES); do echo "KINA_MODULE($$m)"; done; } > $@

$(BUILD)/kina: core/main.c $(MODULE_OBJS) $(BUILD)/obj/preload.h $(HEADERS)
	$(CC) $(CFLAGS) $(KINA_CFLAGS) -I$(BUILD)/obj -o $@ core/main.c $(MODULE_OBJS) $(LUA_LIBS) -lm $(HOST_LDFLAGS)

# The simulator of Apple's `container` CLI is the same host under another name.
$(BUILD)/sim/container: $(BUILD)/kina
	@mkdir -p $(dir $@)
	ln -sf ../kina $@

# ---------------------------------------------------------------------------
# Dependencies: Debian's packages (apt-get, --no-install-recommends) or, on macOS, Homebrew's
# Lua, LuaRocks and pkg-config with the rockspec's Lua modules from LuaRocks.
# DEB_DEMO_PACKAGES build and run kina (the host embeds Lua 5.4: no interpreter needed);
# `make demo` installs only these. DEB_TEST_PACKAGES are what `make test` needs besides: the
# lua5.4 interpreter and busted, luarocks for the install test, valgrind and clang for the
# memory and compiler checks, kubectl, and the real programs the oracle specs hold the
# simulated node to (containerd and ctr, iptables, sysctl, ip netns, a CRI client's gRPC), and
# zsh and fish, whose completion the completion spec runs (bash is there already; on macOS zsh
# and bash come with the system and fish from Homebrew), and podman with runc, the real runtime
# spec/podman_provider_spec.lua drives (as root, with cgroupfs: issue 16).
# Debian 12's luarocks depends on Lua 5.1 (or 5.2/5.3, never 5.4), so `make test` brings Lua
# 5.1 in and it becomes the default `lua`: kina always runs lua5.4 by name, so nothing minds.
DEB_DEMO_PACKAGES := liblua5.4-dev lua-luv lua-cjson lua-yaml pkg-config gcc libc6-dev make
DEB_TEST_PACKAGES := lua5.4 lua-busted luarocks valgrind clang containerd iptables iproute2 procps util-linux \
  tar python3 python3-grpcio zsh fish podman runc
BREW_FORMULAE     := lua luarocks pkg-config

# $(call deb_install,PACKAGES): apt-get install what of PACKAGES is missing (sudo unless root).
deb_install = missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	  $(2) \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	  fi

# macOS: Homebrew's formulae (lua installs lua5.4 too), then the rockspec's dependencies
# (luv, lua-cjson, lyaml) from LuaRocks; $(1) is more to do (busted, kubectl for make test).
brew_install = command -v brew >/dev/null 2>&1 || { echo "install Homebrew (https://brew.sh), or Lua 5.4, LuaRocks and pkg-config by hand"; exit 1; }; \
	  missing=""; for t in lua5.4:lua luarocks:luarocks pkg-config:pkg-config $(2); do \
	    command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t\#*:}"; done; \
	  if [ -n "$$missing" ]; then echo "brew install$$missing"; brew install $$missing || exit 1; fi; \
	  $(LUA) -e 'require"luv" require"cjson" require"lyaml"' 2>/dev/null || \
	    luarocks --lua-version=5.4 install --only-deps kina-scm-1.rockspec || exit 1; \
	  $(1)

deps-demo:
	@if [ "$(UNAME_S)" = Darwin ]; then $(call brew_install,true,); \
	elif command -v dpkg-query >/dev/null 2>&1; then $(call deb_install,$(DEB_DEMO_PACKAGES),); \
	else echo "unknown system: install a C compiler, pkg-config, Lua 5.4's headers and library, luv, lua-cjson and lyaml by hand"; fi

deps:
	@if [ "$(UNAME_S)" = Darwin ]; then \
	  $(call brew_install,command -v $(BUSTED) >/dev/null 2>&1 || luarocks --lua-version=5.4 install busted,kubectl:kubernetes-cli fish:fish); \
	elif command -v dpkg-query >/dev/null 2>&1; then \
	  $(call deb_install,$(DEB_DEMO_PACKAGES) $(DEB_TEST_PACKAGES),command -v kubectl >/dev/null 2>&1 || missing="$$missing kubernetes-client";); \
	else echo "unknown system: install Lua 5.4, luv, lua-cjson, lyaml, busted, luarocks, valgrind, clang and kubectl by hand"; fi

# ---------------------------------------------------------------------------
demo: deps-demo all
	$(BUILD)/kina run examples/demo.lua

# Every test: the suite, the suite on the portable POSIX path (the one macOS takes), the sanitizer
# build, valgrind, a clang build, and an install through LuaRocks. A stage that cannot run here
# either fails or writes why to $(SKIPPED); the last line sums up every busted run and names
# every skipped stage and every pending spec (their reasons are listed above it).
BUSTED_RUN = $(BUSTED) --lua=$(LUA) -o plainTerminal
SKIPPED    := build-logs/skipped.txt
skip       = mkdir -p build-logs; echo "$(1)" >> $(SKIPPED); echo "*** skipped: $(1) ***"
test: deps
	@rm -f build-logs/*.log $(SKIPPED); mkdir -p build-logs
	$(MAKE) all
	$(MAKE) oracle-tools
	$(MAKE) test-unit
	$(MAKE) test-portable
	$(MAKE) sanitize
	$(MAKE) valgrind
	$(MAKE) test-clang
	$(MAKE) test-install
	@cat build-logs/*.log | awk -v skipped="$$(paste -sd ';' $(SKIPPED) 2>/dev/null | sed 's/;/; /g')" ' \
	  / (success|successes) \/ / { s += $$1; f += $$4; e += $$7; p += $$10 } \
	  /^Pending -> / { getline; getline why; sub(/^[^ ]*:[0-9]+: /, "", why); if (!(why in seen)) order[++n] = why; seen[why]++ } \
	  END { for (i = 1; i <= n; i++) printf "pending (%dx): %s\n", seen[order[i]], order[i]; \
	    line = sprintf("kina: %d passed, %d failed, %d pending", s, f + e, p); \
	    line = line (skipped != "" ? "; skipped: " skipped : "; no stage skipped"); \
	    print line; exit (f + e > 0) }'

# containerd 2.x for the oracle specs: Debian unstable's package unpacked into build-oracle/
# (never installed). Where unstable cannot be reached the 2.x cases are skipped, loudly.
oracle-tools:
	@if [ "$(UNAME_S)" = Linux ]; then \
	  sh spec/support/oracle/fetch-containerd-2.sh build-oracle/containerd-2; rc=$$?; \
	  if [ $$rc = 2 ]; then $(call skip,the containerd 2.x oracle cases (Debian unstable is not reachable)); \
	  elif [ $$rc != 0 ]; then exit $$rc; fi; \
	else $(call skip,the oracle specs (real containerd and iptables: Linux only)); fi

test-unit: all
	@mkdir -p build-logs
	$(BUSTED_RUN) --cpath='./$(BUILD)/lib/?.so' spec | tee build-logs/unit.log

# On macOS the portable paths are the only ones: test-unit has run them already.
test-portable:
ifeq ($(UNAME_S),Darwin)
	@$(call skip,test-portable (on macOS test-unit already runs the portable paths))
else
	@mkdir -p build-logs
	$(MAKE) BUILD=build-portable PORTABLE=1 all
	KINA_BUILD=build-portable KINA_SIM_BIN=./build-portable/sim/container $(BUSTED_RUN) --cpath='./build-portable/lib/?.so' spec | tee build-logs/portable.log
endif

# The whole suite with the C modules and the host built with ASan+UBSan (build-asan/).
# build-asan/kina and the simulator (the same host) are linked with ASan and need nothing more.
# lua5.4 is not instrumented: to load the ASan-built kina.core modules the ASan runtime must be
# preloaded (before libc's malloc). That is what $(SAN_BUILD)/preload/$(LUA) does, first on
# PATH for busted and for the lua5.4 children some specs start; it drops the preload variable
# from its environment at once, so every other program (sh, cat, tar, kubectl...) runs
# uninstrumented and unaffected. Linux preloads with LD_PRELOAD; macOS with
# DYLD_INSERT_LIBRARIES and Apple clang's libclang_rt.asan_osx_dynamic.dylib (System
# Integrity Protection drops DYLD_* only for Apple's own binaries, and the wrapper sets it for
# Homebrew's lua itself). Leak detection is on where LeakSanitizer exists (Linux: lua5.4 and
# busted free their state at exit, so a leak it finds is kina's); Apple's clang has none on
# macOS, so there only memory errors and undefined behaviour are checked. Every report, from
# any process (also from a child whose failure a spec expects), goes to $(SAN_LOGS)/, and any
# report fails the target. Not yet run on a Mac: if the runtime is not found there, the stage
# is skipped and named.
SAN_BUILD  := build-asan
SAN_LOGS   := build-logs/sanitizers
SAN_WRAP   := $(SAN_BUILD)/preload
# Every spec but install_spec, which builds and installs its own, uninstrumented kina with
# luarocks (run by test-install), and whose luarocks would take the preloading wrapper below
# for the Lua installation and look for Lua's headers beside it.
SANITIZE_SPECS ?= $(filter-out spec/install_spec.lua,$(sort $(wildcard spec/*_spec.lua)))
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
ifeq ($(UNAME_S),Darwin)
ASAN_LIB   := $(shell $(CC) -print-resource-dir 2>/dev/null)/lib/darwin/libclang_rt.asan_osx_dynamic.dylib
PRELOAD_VAR := DYLD_INSERT_LIBRARIES
DETECT_LEAKS := 0
else
ifneq (,$(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1)))
ASAN_LIB   := $(shell $(CC) -print-file-name=libclang_rt.asan-$(shell uname -m).so 2>/dev/null)
else
ASAN_LIB   := $(shell $(CC) -print-file-name=libasan.so 2>/dev/null)
endif
PRELOAD_VAR := LD_PRELOAD
DETECT_LEAKS := 1
endif
LUA_BIN    := $(shell command -v $(LUA) 2>/dev/null)
ASAN_RUN_OPTIONS  := detect_leaks=$(DETECT_LEAKS):abort_on_error=1:print_summary=1:log_path=$(CURDIR)/$(SAN_LOGS)/asan
UBSAN_RUN_OPTIONS := print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(SAN_LOGS)/ubsan

$(SAN_WRAP)/$(LUA): Makefile
	@mkdir -p $(dir $@)
	@{ echo '#!/bin/sh'; \
	  echo '# $(LUA) with the ASan runtime preloaded for the ASan-built kina.core modules (make sanitize).'; \
	  echo '# The preload leaves the environment at once: the programs this Lua starts run as they are.'; \
	  echo "$(PRELOAD_VAR)='$(ASAN_LIB)' exec '$(LUA_BIN)' -e 'require(\"luv\").os_unsetenv(\"$(PRELOAD_VAR)\")' \"\$$@\""; \
	} > $@
	@chmod 0755 $@

sanitize:
ifeq ($(UNAME_S),Darwin)
	@test -f "$(ASAN_LIB)" || { $(call skip,sanitize (no ASan runtime for $(CC) at $(ASAN_LIB))); exit 0; }; \
	  $(MAKE) sanitize-run
else
	@test -f "$(ASAN_LIB)" || { echo "sanitize: no ASan runtime found for $(CC) ($(ASAN_LIB))"; exit 1; }
	@$(MAKE) sanitize-run
endif

sanitize-run:
	@mkdir -p build-logs; rm -rf $(SAN_LOGS); mkdir -p $(SAN_LOGS)
	$(MAKE) BUILD=$(SAN_BUILD) OPT='-O1 -g -fno-omit-frame-pointer' SANFLAGS='$(SAN_CFLAGS)' all $(SAN_WRAP)/$(LUA)
	rc=0; PATH="$(CURDIR)/$(SAN_WRAP):$$PATH" KINA_BUILD=$(SAN_BUILD) KINA_SIM_BIN=./$(SAN_BUILD)/sim/container \
	  ASAN_OPTIONS=$(ASAN_RUN_OPTIONS) UBSAN_OPTIONS=$(UBSAN_RUN_OPTIONS) \
	  $(SAN_WRAP)/$(LUA) $$(command -v $(BUSTED)) --ignore-lua -o plainTerminal --cpath='./$(SAN_BUILD)/lib/?.so' \
	  $(SANITIZE_SPECS) | tee build-logs/sanitize.log || rc=$$?; \
	if [ -n "$$(ls -A $(SAN_LOGS))" ]; then \
	  echo "sanitize: ASan/UBSan reports (in $(SAN_LOGS)/):"; cat $(SAN_LOGS)/*; exit 1; fi; \
	exit $$rc

# Under valgrind: no memory error, nothing definitely lost, in the runner and provider specs
# (kina.core's runner, apple and spec modules in the busted process; the simulator it drives is
# build/kina itself, whose C is the same objects, checked by `make sanitize`). The portable
# build, because this valgrind does not know pidfd_open (the runner would fall back anyway, with
# a warning per call). KINA_SIM_BIN: the provider spec's simulator comes from the same build.
VALGRIND_SPECS ?= spec/runner_spec.lua spec/provider_spec.lua
VALGRIND_BUILD := build-portable
VALGRIND_FLAGS ?= -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite
valgrind:
ifeq ($(UNAME_S),Darwin)
	@$(call skip,valgrind (none for macOS on Apple silicon; the sanitizer run checks memory errors))
else
	@command -v valgrind >/dev/null 2>&1 || { echo "valgrind: not installed (make deps installs it on Debian)"; exit 1; }
	@mkdir -p build-logs
	$(MAKE) BUILD=$(VALGRIND_BUILD) PORTABLE=1 all
	KINA_BUILD=$(VALGRIND_BUILD) KINA_SIM_BIN=./$(VALGRIND_BUILD)/sim/container \
	  valgrind $(VALGRIND_FLAGS) $(LUA) $$(command -v $(BUSTED)) --ignore-lua -o plainTerminal \
	  --cpath='./$(VALGRIND_BUILD)/lib/?.so' $(VALGRIND_SPECS) | tee build-logs/valgrind.log
endif

# Warnings are errors with clang too.
test-clang:
	@if command -v clang >/dev/null 2>&1; then $(MAKE) BUILD=build-clang CC=clang all; \
	else $(call skip,test-clang (clang is not installed)); fi

# `luarocks make` into a throw-away tree, then the installed kina runs and `require "kina"` works.
test-install:
	@mkdir -p build-logs
	rm -rf build-rocktree
	luarocks --lua-version=5.4 lint kina-scm-1.rockspec
	luarocks --lua-version=5.4 make --deps-mode=none --tree=build-rocktree kina-scm-1.rockspec >/dev/null
	rm -f core/*.o; rm -rf kina   # what luarocks' builtin build leaves in the source tree
	KINA_ROCKTREE=build-rocktree $(BUSTED_RUN) spec/install_spec.lua | tee build-logs/install.log

bench: all
	$(BUILD)/kina run bench/run.lua

# ---------------------------------------------------------------------------
LUADIR     ?= $(PREFIX)/share/lua/5.4
LIBDIR     ?= $(PREFIX)/lib/lua/5.4
BINDIR     ?= $(PREFIX)/bin
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LUADIR)/kina $(DESTDIR)$(LIBDIR)/kina/core
	install -m 0755 $(BUILD)/kina $(DESTDIR)$(BINDIR)/kina
	install -m 0644 $(MODULE_SOS) $(DESTDIR)$(LIBDIR)/kina/core/
	cd lua && find kina -name '*.lua' | while read f; do \
	  install -d $(DESTDIR)$(LUADIR)/$$(dirname $$f); install -m 0644 $$f $(DESTDIR)$(LUADIR)/$$f; done
	install -d $(DESTDIR)$(LUADIR)/kina/scripts
	install -m 0644 scripts/*.lua $(DESTDIR)$(LUADIR)/kina/scripts/

uninstall:
	rm -rf $(DESTDIR)$(BINDIR)/kina $(DESTDIR)$(LUADIR)/kina $(DESTDIR)$(LIBDIR)/kina

clean:
	rm -rf build build-portable build-asan build-clang build-rocktree build-logs build-oracle
