#!/usr/bin/env node
/*
 * The OpenNoodl editor's backend entry, for noodl-sidecar.
 *
 * The editor's ServiceSupervisor runs this file with Electron as Node (ELECTRON_RUN_AS_NODE=1) and the
 * argv `serve --data-dir … --port … --backend-id … --backend-name … --parent-pid … [--ephemeral]
 * [--project-dir …]`. This launcher finds the sidecar and runs it with the same arguments:
 *
 *   1. $NOODL_SIDECAR_BIN, when set (a path to the noodl-sidecar executable);
 *   2. the PyInstaller onedir build beside this file: ./noodl-sidecar/noodl-sidecar[.exe];
 *   3. a source checkout above this file: `python -m sidecar` with the checkout on PYTHONPATH
 *      ($NOODL_SIDECAR_PYTHON, else the checkout's .venv, else python3).
 *
 * The child inherits stdin/stdout/stderr, so the READY line reaches the supervisor unbuffered.
 * SIGTERM, SIGINT and SIGHUP are passed on; the launcher leaves with the child's exit code (or its
 * signal). The sidecar exits by itself when this launcher dies (it notices being re-parented) and when
 * --parent-pid dies; the launcher adds --parent-pid (its own pid) when the caller did not.
 * The directory name `nodegx-backend` is what the editor's orphan reaper looks for on a command line.
 *
 * Plain Node, no dependencies: it is copied as is into the editor's resources.
 */
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const EXE = process.platform === 'win32' ? 'noodl-sidecar.exe' : 'noodl-sidecar';

function isFile(candidate) {
  try {
    return fs.statSync(candidate).isFile();
  } catch (e) {
    return false;
  }
}

/** The checkout holding the sidecar's sources, searching upwards from this file. */
function sourceCheckout(start) {
  let dir = start;
  for (;;) {
    if (isFile(path.join(dir, 'sidecar', '__main__.py')) && isFile(path.join(dir, 'pyproject.toml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function venvPython(root) {
  const candidates =
    process.platform === 'win32'
      ? [path.join(root, '.venv', 'Scripts', 'python.exe')]
      : [path.join(root, '.venv', 'bin', 'python3'), path.join(root, '.venv', 'bin', 'python')];
  return candidates.find(isFile) || null;
}

/** `{command, prefix, env}` to run, or null when no sidecar can be found. */
function resolveSidecar(env) {
  if (env.NOODL_SIDECAR_BIN) return { command: env.NOODL_SIDECAR_BIN, prefix: [], env };
  const bundled = path.join(__dirname, 'noodl-sidecar', EXE);
  if (isFile(bundled)) return { command: bundled, prefix: [], env };
  const root = sourceCheckout(__dirname);
  if (!root) return null;
  const python = env.NOODL_SIDECAR_PYTHON || venvPython(root) || (process.platform === 'win32' ? 'python' : 'python3');
  const pythonPath = env.PYTHONPATH ? root + path.delimiter + env.PYTHONPATH : root;
  return { command: python, prefix: ['-m', 'sidecar'], env: { ...env, PYTHONPATH: pythonPath } };
}

/** The caller's argv, plus `--parent-pid <launcher>` for `serve` when the caller gave none. */
function childArgs(argv) {
  const args = argv.slice();
  const hasParent = args.some((arg) => arg === '--parent-pid' || arg.startsWith('--parent-pid='));
  if (args[0] === 'serve' && !hasParent) args.push('--parent-pid', String(process.pid));
  return args;
}

function main() {
  // The supervisor runs us with ELECTRON_RUN_AS_NODE=1; the sidecar has no use for it, and a frozen
  // binary that starts Node or Electron helpers itself must not inherit it.
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  const found = resolveSidecar(env);
  if (!found) {
    process.stderr.write(
      'nodegx-backend: noodl-sidecar not found: set NOODL_SIDECAR_BIN, or put the onedir build at ' +
        path.join(__dirname, 'noodl-sidecar', EXE) +
        '\n'
    );
    process.exit(127);
  }
  // The sidecar watches the editor's pid (--parent-pid) and, through this variable, ours: a kill -9 of
  // this launcher alone must not leave it running either.
  const child = spawn(found.command, [...found.prefix, ...childArgs(process.argv.slice(2))], {
    stdio: 'inherit',
    env: { ...found.env, NOODL_SIDECAR_LAUNCHER_PID: String(process.pid) },
    windowsHide: true
  });

  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch (e) {
        // already gone
      }
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => forward(signal));

  child.on('error', (error) => {
    process.stderr.write(`nodegx-backend: cannot start ${found.command}: ${error.message}\n`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so the supervisor sees what the child saw.
      for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.removeAllListeners(name);
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128), 200).unref();
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

if (require.main === module) main();

module.exports = { resolveSidecar, childArgs, sourceCheckout };
