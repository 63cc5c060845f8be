"""Local contract servers standing in for the cloud: an OCI registry and the Fly Machines API, written
from the vendors' public references, scripted per test (429s, 5xx, failing machines, pending
certificates). The Fly server runs each machine as a real ``serve`` process from the pushed image."""
