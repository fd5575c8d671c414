output "nodes" {
  description = "Instance id and address of every node of this workspace."
  value       = module.node.nodes
}
