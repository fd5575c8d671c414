# Workspace of account rcc-aws (vendor aws), rendered by Skyway
# from templates/aws/. Edit the template, not this file.
#
# The desired nodes are data: nodes/<workspace>.json, written from the
# database before each run. Each Terraform workspace holds a share of
# the account's nodes, so one node change reads and writes a small state.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["123456789012"]
  profile             = "rcc-aws"

  assume_role {
    role_arn     = "arn:aws:iam::123456789012:role/skyway"
    session_name = "skyway"
  }

  default_tags {
    tags = local.tags
  }
}

locals {
  nodes_file     = "${path.root}/nodes/${terraform.workspace}.json"
  nodes          = fileexists(local.nodes_file) ? jsondecode(file(local.nodes_file)) : {}
  instance_types = { "c1" = "t2.micro", "c8" = "c5.2xlarge", "g1" = "p3.2xlarge" }
  tags = {
    account = "rcc-aws"
    vendor  = "aws"
    managed = "skyway"
  }
}

module "node" {
  source = "./modules/node"

  nodes              = local.nodes
  instance_types     = local.instance_types
  image              = "ami-0c2b8ca1dad447f8a"
  subnet_id          = "subnet-0123456789abcdef0"
  security_group_ids = ["sg-0a1b2c3d4e5f60718"]
  tags               = local.tags
}
