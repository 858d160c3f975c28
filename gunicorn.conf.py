"""gunicorn settings, read from the working directory by every gunicorn this project starts
(`make run`, the Dockerfile and docker-compose's web service, the benchmarks).

The access log records the path without the query string and without the referer: a
search by a buyer's full phone number (``/console/orders/?q=138…``) must not end up in a
log file. Django's own request logging records paths only.
"""

access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
