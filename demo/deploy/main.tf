provider "alicloud" {
  access_key = "LTAI5tLYJlVkQfpOO9greD7D"
  secret_key = "ep1eW8Slb4RMMsg9n7MjHxJhyxWKYh"
  region     = "cn-shanghai"
}
