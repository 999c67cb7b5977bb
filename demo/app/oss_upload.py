"""Uploads build artefacts to OSS. (akscan demo: synthetic keys, not real ones.)"""
import oss2

# Hard-coded keys: exactly what akscan is here to stop.
auth = oss2.Auth("LTAI5t7A7JAs1VFcHNhX0Qlv", "MUYbz8sEFJIGgobsgrKwPAPkqxlmPY")
bucket = oss2.Bucket(auth, "https://oss-cn-hangzhou.aliyuncs.com", "build-artefacts")


def upload(path: str) -> None:
    bucket.put_object_from_file(path.rsplit("/", 1)[-1], path)
