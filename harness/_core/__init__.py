"""The harness's machinery below every run (private: plugin and workload authors import
:mod:`harness.api`, which re-exports what they need from here).

errors, params, plugin (``PluginSpec``), workload, monitor, context, staleness: the contracts a plugin
is written against; registry (entry points) and launch (a child process's side of a run): discovery;
identity (run keys), cache, paths, output, signals: the services every layer above uses.
"""
