"""Session trials: the unit of ``agentdock soak --mode session`` (one scripted Claude Code session per path).

:mod:`~agentdock.rehearsal.sessions.plan` draws a trial's calls and mid-session faults from its seed;
:mod:`~agentdock.rehearsal.sessions.trial` runs them in real agent containers.  The soak's mode table
(`agentdock.soak.cli.MODES`) names the environment by string, so the soak never imports the rehearsal.
"""
