"""The nginx backend: real nginx in Docker, as the Edge Router (northbound) or the gateway (southbound).

* :mod:`lab.nginx.config`: specs rendered as nginx.conf, and each resolution as a directive diff;
* :mod:`lab.nginx.stapling`: the stapling directives, the files nginx reads, nginx's lazy first fetch;
* :mod:`lab.nginx.image`: the lab's image, assembled offline from the host's Debian nginx;
* :mod:`lab.nginx.engine`: the Docker engine through the Docker SDK, and the labels lab objects carry;
* :mod:`lab.nginx.backend`: :class:`~lab.nginx.backend.NginxBackend` and the sweeper ``tlslab down`` runs;
* :mod:`lab.nginx.export`: ``tlslab export compose``, a project that reproduces a failure anywhere.
"""
