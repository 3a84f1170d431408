"""What every backend shares (:mod:`lab.servers.base`): deployments, endpoints, requests.

The backends themselves are packages of their own (:mod:`lab.twisted`, :mod:`lab.nginx`), listed
in :mod:`lab.backends`.
"""
