# The di-ops Airflow image, built by docker-compose.yaml (`build: .`); see docs/compose.md.
#
# The explicit -python3.11 tag matters: the plain apache/airflow:3.3.2 tag ships the
# image's default Python, which is newer than the 3.11 our lock (requirements.txt) is for.
# Keep the version equal to the apache-airflow pin in requirements.txt (tests/test_compose.py).
FROM apache/airflow:3.3.2-python3.11

# ssh-keyscan and sftp, to check a customer's SFTP server by hand (the tasks use paramiko).
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# Python packages go in as the airflow user, as the image's docs require. The lock re-pins
# apache-airflow==3.3.2, so pip cannot move Airflow itself while installing the rest.
USER airflow
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
