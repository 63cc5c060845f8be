"""Debugging a workflow run from the editor: everything here works on one execution id.

What this package owns:

- ``pin``: an execution shaped for the canvas overlay (``execution:pin``): per canvas node id its
  port previews, status, duration, run count and error, For Each / Try/Catch / Retry runs as child
  entries with their path; full values one port at a time (``execution:step-value``);
- ``replay``: a re-run with an edited request (``execution-history:rerun`` with a second argument):
  the edits applied over the recorded request, the changed paths as JSON pointers, secrets that were
  redacted at record time required from the caller rather than replayed as marker text;
- ``running``: the runs in progress of one backend by execution id, and their cancellation
  (``execution:cancel``): the caller gets the ``function/cancelled`` answer (HTTP 499), the run's
  timers, tasks and child components are stopped, the history records status ``cancelled``; also
  the function's saved pins and the kept overlays (``pin_cache``) of finished executions;
- ``session``: one test run under the debugger (pinned and replayed nodes, breakpoints), attached
  to the run by the runtime; production runs carry none;
- ``testrun``: what a test run may pin or stop at, and the replay plan of ``execution:run-from``
  (which nodes are upstream, what they sent, what cannot be replayed).

The doors (``sidecar.ipc.handlers.debugging``, ``sidecar.web.routes_backend``) call
``sidecar.debugging.service``, which finds the backend that holds the execution. The package
imports nothing at its top, so a backend can hold its ``RunningExecutions`` without loading the
runtime before the handshake.
"""
