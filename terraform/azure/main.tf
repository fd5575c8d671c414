# The nodes of the azure vendor: a network interface and a Linux virtual
# machine each, both tagged with account, node, node type, jobs and user.

terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
    }
  }
}

variable "nodes" {
  description = "Desired nodes by Slurm name: node type, address, jobs, user."
  type = map(object({
    node_type = string
    address   = string
    jobs      = string
    user      = string
  }))
}

variable "sizes" {
  type        = map(string)
  description = "VM size by Skyway node type."
}

variable "image" {
  type        = list(string)
  description = "publisher, offer, sku, version."
}

variable "resource_group" {
  type = string
}

variable "location" {
  type = string
}

variable "subnet_id" {
  type = string
}

variable "login_user" {
  type = string
}

variable "public_key" {
  type        = string
  description = "OpenSSH public key of the login user."
}

variable "tags" {
  type = map(string)
}

locals {
  tags = {
    for name, node in var.nodes : name => merge(var.tags, {
      node      = name
      node_type = node.node_type
      jobs      = node.jobs
      user      = node.user
    })
  }
}

resource "azurerm_network_interface" "node" {
  for_each = var.nodes

  name                = "${each.key}-nic"
  location            = var.location
  resource_group_name = var.resource_group
  tags                = local.tags[each.key]

  ip_configuration {
    name                          = "internal"
    subnet_id                     = var.subnet_id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_linux_virtual_machine" "node" {
  for_each = var.nodes

  name                  = each.key
  location              = var.location
  resource_group_name   = var.resource_group
  size                  = var.sizes[each.value.node_type]
  admin_username        = var.login_user
  network_interface_ids = [azurerm_network_interface.node[each.key].id]
  tags                  = local.tags[each.key]

  admin_ssh_key {
    username   = var.login_user
    public_key = var.public_key
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }

  source_image_reference {
    publisher = var.image[0]
    offer     = var.image[1]
    sku       = var.image[2]
    version   = var.image[3]
  }
}

output "nodes" {
  value = {
    for name, vm in azurerm_linux_virtual_machine.node : name => {
      id      = vm.virtual_machine_id
      address = azurerm_network_interface.node[name].private_ip_address
    }
  }
}
