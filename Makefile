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

.PHONY: all deps demo oracle-tools test test-unit test-portable test-clang test-install sanitize valgrind bench install uninstall clean lint

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
# Dependencies: Debian's packages (apt-get) or, on macOS, Homebrew + LuaRocks.
# The first line builds and runs kina; the second is what `make test` needs besides: valgrind
# and clang for the memory and compiler checks, and the real programs the oracle specs hold the
# simulated node to (containerd and ctr, iptables, sysctl, ip netns, a CRI client's gRPC).
DEB_PACKAGES := lua5.4 liblua5.4-dev lua-luv lua-cjson lua-yaml lua-busted luarocks pkg-config gcc make \
  valgrind clang containerd iptables iproute2 procps util-linux tar python3 python3-grpcio
deps:
	@if [ "$(UNAME_S)" = Darwin ]; then \
	  command -v lua5.4 >/dev/null 2>&1 || command -v lua >/dev/null 2>&1 || { echo "install Lua 5.4: brew install lua luarocks"; exit 1; }; \
	  $(LUA) -e 'require"luv" require"cjson" require"lyaml"' 2>/dev/null || \
	    luarocks --lua-version=5.4 install --only-deps kina-scm-1.rockspec; \
	  command -v $(BUSTED) >/dev/null 2>&1 || luarocks --lua-version=5.4 install busted; \
	elif command -v dpkg-query >/dev/null 2>&1; then \
	  missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	  command -v kubectl >/dev/null 2>&1 || missing="$$missing kubernetes-client"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	  fi; \
	else echo "unknown system: install Lua 5.4, luv, lua-cjson, lyaml and busted by hand"; fi

# ---------------------------------------------------------------------------
demo: deps all
	$(BUILD)/kina run examples/demo.lua

# Every test: the suite, the suite on the portable POSIX path (the one macOS takes), the sanitizer
# build, a clang build, and an install through LuaRocks. The last line sums up every busted run.
BUSTED_RUN = $(BUSTED) --lua=$(LUA) -o plainTerminal
test: deps
	@rm -f build-logs/*.log; mkdir -p build-logs
	$(MAKE) all
	$(MAKE) oracle-tools
	$(MAKE) test-unit
	$(MAKE) test-portable
	$(MAKE) sanitize
	$(MAKE) valgrind
	$(MAKE) test-clang
	$(MAKE) test-install
	@cat build-logs/*.log | awk '/successes \/ / { s += $$1; f += $$4; e += $$7 } \
	  END { printf "kina: %d passed, %d failed\n", s, f + e; exit (f + e > 0) }'

# containerd 2.x for the oracle specs: Debian unstable's package unpacked into build-oracle/
# (never installed). Where unstable cannot be reached the 2.x cases are skipped, loudly.
oracle-tools:
	@if [ "$(UNAME_S)" = Linux ]; then \
	  sh spec/support/oracle/fetch-containerd-2.sh build-oracle/containerd-2; rc=$$?; \
	  if [ $$rc = 2 ]; then echo "*** containerd 2.x oracle cases will be skipped: Debian unstable is not reachable ***"; \
	  elif [ $$rc != 0 ]; then exit $$rc; fi; \
	else echo "oracle-tools: the oracle specs run on Linux only"; fi

test-unit: all
	@mkdir -p build-logs
	$(BUSTED_RUN) --cpath='./$(BUILD)/lib/?.so' spec | tee build-logs/unit.log

test-portable:
	@mkdir -p build-logs
	$(MAKE) BUILD=build-portable PORTABLE=1 all
	KINA_BUILD=build-portable KINA_SIM_BIN=./build-portable/sim/container $(BUSTED_RUN) --cpath='./build-portable/lib/?.so' spec | tee build-logs/portable.log

# The whole suite with the C modules and the host built with ASan+UBSan (build-asan/).
# build-asan/kina and the simulator (the same host) are linked with ASan and need nothing more.
# lua5.4 is not instrumented: to load the ASan-built kina.core modules the ASan runtime must be
# preloaded (before libc's malloc). That is what $(SAN_BUILD)/preload/$(LUA) does, first on
# PATH for busted and for the lua5.4 children some specs start; it drops LD_PRELOAD from its
# environment at once, so every other program (sh, cat, tar, kubectl...) runs uninstrumented
# and unaffected. Leak detection stays on everywhere: lua5.4 and busted free their state at
# exit, so a leak LeakSanitizer finds is kina's. Every report, from any process (also from a
# child whose failure a spec expects), goes to $(SAN_LOGS)/, and any report fails the target.
SAN_BUILD  := build-asan
SAN_LOGS   := build-logs/sanitizers
SAN_WRAP   := $(SAN_BUILD)/preload
# Every spec but install_spec, which builds and installs its own, uninstrumented kina with
# luarocks (run by test-install), and whose luarocks would take the preloading wrapper below
# for the Lua installation and look for Lua's headers beside it.
SANITIZE_SPECS ?= $(filter-out spec/install_spec.lua,$(sort $(wildcard spec/*_spec.lua)))
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
ifneq (,$(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1)))
ASAN_LIB   := $(shell $(CC) -print-file-name=libclang_rt.asan-$(shell uname -m).so 2>/dev/null)
else
ASAN_LIB   := $(shell $(CC) -print-file-name=libasan.so 2>/dev/null)
endif
LUA_BIN    := $(shell command -v $(LUA) 2>/dev/null)
ASAN_RUN_OPTIONS  := detect_leaks=1:abort_on_error=1:print_summary=1:log_path=$(CURDIR)/$(SAN_LOGS)/asan
UBSAN_RUN_OPTIONS := print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(SAN_LOGS)/ubsan

$(SAN_WRAP)/$(LUA): Makefile
	@mkdir -p $(dir $@)
	@{ echo '#!/bin/sh'; \
	  echo '# $(LUA) with the ASan runtime preloaded for the ASan-built kina.core modules (make sanitize).'; \
	  echo '# The preload leaves the environment at once: the programs this Lua starts run as they are.'; \
	  echo "LD_PRELOAD='$(ASAN_LIB)' exec '$(LUA_BIN)' -e 'require(\"luv\").os_unsetenv(\"LD_PRELOAD\")' \"\$$@\""; \
	} > $@
	@chmod 0755 $@

sanitize:
	@mkdir -p build-logs; rm -rf $(SAN_LOGS); mkdir -p $(SAN_LOGS)
	@test -f "$(ASAN_LIB)" || { echo "sanitize: no ASan runtime found for $(CC) ($(ASAN_LIB))"; exit 1; }
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
	@mkdir -p build-logs
	$(MAKE) BUILD=$(VALGRIND_BUILD) PORTABLE=1 all
	KINA_BUILD=$(VALGRIND_BUILD) KINA_SIM_BIN=./$(VALGRIND_BUILD)/sim/container \
	  valgrind $(VALGRIND_FLAGS) $(LUA) $$(command -v $(BUSTED)) --ignore-lua -o plainTerminal \
	  --cpath='./$(VALGRIND_BUILD)/lib/?.so' $(VALGRIND_SPECS) | tee build-logs/valgrind.log

# Warnings are errors with clang too.
test-clang:
	@if command -v clang >/dev/null 2>&1; then $(MAKE) BUILD=build-clang CC=clang all; \
	else echo "clang not installed: skipping the clang build"; fi

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
