# Workspace of account rcc-azure (vendor azure), rendered by Skyway
# from templates/azure/. Edit the template, not this file.
#
# The desired nodes are data: nodes/<workspace>.json, written from the
# database before each run. Each Terraform workspace holds a share of
# the account's nodes, so one node change reads and writes a small state.

terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}
  subscription_id = "00000000-0000-0000-0000-000000000000"
  tenant_id       = "11111111-1111-1111-1111-111111111111"
}

locals {
  nodes_file     = "${path.root}/nodes/${terraform.workspace}.json"
  nodes          = fileexists(local.nodes_file) ? jsondecode(file(local.nodes_file)) : {}
  instance_types = { "c1" = "Standard_B1s", "c8" = "Standard_F8s_v2" }
  image          = split(":", "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest")
  tags = {
    account = "rcc-azure"
    vendor  = "azure"
    managed = "skyway"
  }
}

# No subnet_id in the account: the nodes join subnet "skyway" of the
# virtual network "skyway-vnet" in the account's resource group.
data "azurerm_subnet" "nodes" {
  name                 = "skyway"
  virtual_network_name = "skyway-vnet"
  resource_group_name  = "skyway-rg"
}

module "node" {
  source = "./modules/node"

  nodes          = local.nodes
  sizes          = local.instance_types
  image          = local.image
  resource_group = "skyway-rg"
  location       = "eastus"
  subnet_id      = data.azurerm_subnet.nodes.id
  login_user     = "azureuser"
  public_key     = ""
  tags           = local.tags
}
